"""Training, written once: one recipe record and one step, taken by `python -m model.train`
(model/train.py, epoch after epoch) and by POST /train and the classes' fine-tune (a request's
few steps at a time).

- recipes.py: the Recipe record and the table of named recipes;
- steps.py: the training step (batch, redrawing, loss, gradients, the optimiser, the average);
- schedule.py: the cosine learning rate, each epoch's shuffle, the validation split;
- optimizers.py, objectives.py: eq. (66) and the optimisers built on it; the loss and its dL/dS;
- augment.py, calibration.py: digits redrawn at random; temperature scaling after training;
- runs.py, replay.py: runs that fit in a request, and the command that replays them;
- cli.py, checkpoints.py, metadata.py, progress.py: the command's options, its checkpoints, what
  it writes beside the weights, its progress bar.

It imports the network (model/network.py, model/cnn.py); nothing there imports it.
"""
