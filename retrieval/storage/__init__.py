"""Where papers, vectors and bot state are kept: one module or folder per backend."""
