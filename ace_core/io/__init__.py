"""Readers of the lab's raw files, one format per module; nothing here writes.

``neuralynx``: ``.ncs`` channels and ``.nev`` events through neo. ``miniscope``: UCLA Miniscope DAQ folders
(``N.avi``, ``timeStamps.csv``, ``metaData.json``) through PyAV. ``head_orientation``: the V4 BNO sensor's
``headOrientation.csv``. ``notes``: the DAQ's ``notes.csv``. ``frames``: frame sources, the lazy picklable
handles through which every movie (raw or product) is read a chunk at a time.
"""
