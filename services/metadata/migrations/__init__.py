"""Versioned MongoDB migrations: ``mNNNN_name.py`` modules with ``async def up(db)``, applied in
order at start and recorded in the ``migrations`` collection."""
