"""Embedders behind one interface (base.Embedder). `registry.embedder_get(key)` gives the loaded,
process-wide instance; `registry.model_catalogue()` says which ones this installation can run."""
