"""Refine the music with a person in the loop: a preference model and sequential line search."""
