from hypothesis import settings

# The machine is shared: no per-example deadline.
settings.register_profile("gdfast", deadline=None, max_examples=60)
settings.load_profile("gdfast")
