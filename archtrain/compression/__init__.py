"""Model compression: quantization, pruning, their footprint, and the step that finishes a compressed
run after training (a transform with `finish(net, data)`), writing the compressed net to model.pt."""
