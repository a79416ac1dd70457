"""The musical concept graph (networkx): segments, emotions and musical attributes, and the planner on it."""
