"""Export: scripts that write dlm checkpoints (format v1). A package, so that exporters of
further model families can live here as modules beside the entry scripts."""
