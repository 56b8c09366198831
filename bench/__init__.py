"""The benchmark suite (`make bench`): our service against the seed app it replaces."""
