"""Managers' statistics: counted once per appointment into weekly counters (`counters`),
drawn as server-rendered SVG with their tables (`charts`), shown by `views`."""
