"""Synchronisation of the two clocks: movie frames on the Neuralynx clock (``frame_clock``), frames <->
ephys samples (``frame_mapping``), and events placed on both clocks (``clocks``)."""
