"""`scalekit update`: template changes merged into generated projects that teams edited."""
