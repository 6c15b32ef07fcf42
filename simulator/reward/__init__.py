"""Racers' reward functions: the isolated sandbox that runs them (``sandbox``), the console's Validate
(``validation``) and the editor's examples (``examples``). Import the submodule you need."""
