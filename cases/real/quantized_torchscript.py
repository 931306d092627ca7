"""An int8 TorchScript model, as torch.quantization.quantize_dynamic and torch.jit.script make
it: its packed Linear parameters are rebuilt from their tensor data when the archive is
imported, so an archive without that data does not stand in for it (2.6 dies with SIGSEGV on
one). Run by the real-checkpoint tests inside each env whose torch has a quantized engine.

Usage: python quantized_torchscript.py OUT_FILE
"""
import sys
import warnings

import torch


def main(out):
    warnings.simplefilter("ignore")
    engines = torch.backends.quantized.supported_engines
    if "qnnpack" in engines and "fbgemm" not in engines:
        torch.backends.quantized.engine = "qnnpack"
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    quantized = torch.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    torch.jit.script(quantized).save(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
