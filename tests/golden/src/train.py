# A tiny training script for the golden corpus: reports "loss" and "val_acc".
import json
import sys

print(json.dumps({"metric": "loss", "value": 0.5}))
print(json.dumps({"metric": "val_acc", "value": 0.9}))
sys.exit(0)
