from counter.admin import catalog, citizens, payments  # noqa: F401  (registers the ModelAdmins)
