"""complex64 tensors, as spectral / FFT models (FNO, audio STFT) save them."""
import torch


def build():
    return {"spectrum": torch.complex(torch.arange(4.0), torch.ones(4))}
