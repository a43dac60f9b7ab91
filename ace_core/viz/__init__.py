"""PNG previews of products; the only part of ace_core that imports matplotlib."""
