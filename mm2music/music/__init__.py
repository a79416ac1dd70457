"""Symbolic music: attributes, tokenizer, model, generation, checkpoint I/O."""
