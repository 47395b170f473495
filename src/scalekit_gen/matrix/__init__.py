"""`scalekit matrix`: every valid blueprint of the catalog, counted, selected and checked.

- `space`: the axes (the catalog's choice decisions, observability's subsets, read replicas as
  0 or some), the enumeration of every valid row, `--only`/`--exclude` filters and shards;
- `cover`: covering sets where every t-tuple of axis values some valid row holds meets
  (pairwise, `--strength 3`), greedy and deterministic;
- `schemas`, `checks`: static checks of a rendered project (the tools they need are in the
  `test` extra: ruff, check-jsonschema, kubernetes-validate, PyYAML);
- `run`: render and check rows in parallel, keeping failing renders and their answers;
- `report`: JUnit XML and Markdown reports;
- `distinct`: which decisions each template file depends on, and the proof that checks every
  distinct rendering of every file once.

The CLI (`scalekit matrix`) only parses options and prints; the tests call these directly.
"""
