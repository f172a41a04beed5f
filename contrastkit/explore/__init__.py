"""The pure functions behind the notebooks' interactive explorers, one module per notebook.

A widget callback in a notebook reads its controls and calls a function here; the function
takes plain values and returns plain data (dicts, tensors, figures), so tests call it directly
and a static page can precompute its frames. ``contrastkit.explore.<key>`` belongs to the
notebook of catalog key ``<key>``; the algorithms themselves live in the method modules,
``losses``, ``metrics`` and ``prototypes``, and are imported from there.
"""
