"""The composition root: which adapter serves which port, and the wiring of the whole service
(root.py); imported by main.py and the command line alone."""
