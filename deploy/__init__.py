"""Deployment: exporting a model (:mod:`deploy.export`), running it on an inference backend
(:mod:`deploy.backends`), timing it (:mod:`utils.timing`, :mod:`deploy.benchmark`) and the result
charts (:mod:`deploy.charts`).

Two routines serve every command: :func:`utils.timing.paired_times` times every measurement
(paired, interleaved, in alternating order) and :func:`deploy.parity.check_parity` compares every
export and backend with the PyTorch model. A model takes part through its contract
(``model.deployable(input_size)`` and ``model.output_names``, see ``cvnets/models/base.py``).

Importing this package imports nothing else: :mod:`deploy.options` declares the commands' options
before torch is loaded.
"""
