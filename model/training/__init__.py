"""Training, written once: the offline trainer (`python -m model.train`) and the live recipes
(POST /train) take their steps from the same modules.

- schedule.py: the cosine learning rate, each epoch's shuffle, the validation split;
- optimizers.py: a batch's gradients, eq. (66) and the optimisers built on it (momentum,
  Nesterov, Adam);
- augment.py, calibration.py: digits redrawn at random; temperature scaling after training;
- config.py, checkpoints.py, loop.py, metadata.py: the offline trainer, its checkpoints and
  what it writes beside the weights;
- recipes.py, replay.py: runs that fit in a request, and the command that replays them;
- cli.py, progress.py: the command line of `python -m model.train` (model/train.py), its progress bar.

It imports the network (model/network.py, model/cnn.py, model/fast/); nothing there imports it.
"""
