"""Training: corpora (conversion, manifests, splits), datasets and the training loop."""
