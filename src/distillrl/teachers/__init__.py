"""Teachers: the interface, and loaders for every source (zoo, runs, SB3 zips, CleanRL state
dicts, Decision Transformers)."""
