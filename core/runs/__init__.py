"""What every training and batch run shares: process groups (torchrun/DDP), precision names, the run folder."""
