"""Lightning's load_from_checkpoint of a checkpoint whose hyper-parameters hold an omegaconf ListConfig, as whisperX's and pyannote's do: Lightning 2.6.0 (2025-11-28) stopped forcing weights_only=False and left it to torch."""
import os

# Installed in the env or the scenario is skipped there (harness/runtime/worker.py).
REQUIRES = ("lightning", "omegaconf")


def run(workdir):
    import lightning
    import torch
    from omegaconf import OmegaConf

    class Segmenter(lightning.LightningModule):
        def __init__(self, classes):
            super().__init__()
            self.save_hyperparameters()
            self.net = torch.nn.Linear(4, len(classes))

        def training_step(self, batch, batch_index):
            features, targets = batch
            return torch.nn.functional.cross_entropy(self.net(features), targets)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    classes = OmegaConf.create(["speech", "music", "noise"])  # a ListConfig
    data = torch.utils.data.TensorDataset(torch.randn(8, 4), torch.randint(0, 3, (8,)))
    trainer = lightning.Trainer(max_steps=1, accelerator="cpu", logger=False,
                                enable_checkpointing=False, enable_progress_bar=False,
                                enable_model_summary=False, default_root_dir=workdir)
    trainer.fit(Segmenter(classes), torch.utils.data.DataLoader(data, batch_size=4))
    path = os.path.join(workdir, "segmenter.ckpt")
    trainer.save_checkpoint(path)
    return Segmenter.load_from_checkpoint(path).hparams["classes"]
