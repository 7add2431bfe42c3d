"""Pixels: input images (`images`), image addresses (`urls`, `previews`), videos."""
