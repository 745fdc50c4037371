"""Contract suite for the GamifyHost Track / Enrich User API: the mock in-process, or any URL."""
