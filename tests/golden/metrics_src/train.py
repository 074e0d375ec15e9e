# Reports its metrics through keyword arguments: the names are never quoted.
import amlflow

for epoch in range(2):
    amlflow.log_metrics(dict(val_loss=1.0 / (epoch + 1)), step=epoch)
