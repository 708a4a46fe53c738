"""What the packages agree on, each spelled in one place: the TensorFlow environment they run in
(environment.py), where a run's outputs go (layout.py), the names of components, outputs, signatures and
metrics (names.py), the raw data's file rules (raw_data.py) and the errors every gate raises (errors.py).

The bottom of the package graph: it imports nothing of the project, and TensorFlow only inside the one
function that lists storage (layout.versions).
"""
