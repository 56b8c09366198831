"""Disaster-tweet classifier: data sets, the Pipeline, training, evaluation and model files.

Plain Python with no Django imports; import from the submodules (ml.data, ml.train, ...).
"""
