"""What people use generative models for: embeddings, denoising, anomaly scores, pretraining.

Each module holds the library functions; the `genzoo embed|denoise|score|pretrain` commands
are thin adapters over them.
"""
