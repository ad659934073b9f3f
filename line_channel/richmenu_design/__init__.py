"""Rich-menu design set: Kairan's own icons, colour themes, standard layouts and the image renderer.

``render.render_menu`` draws a LINE rich-menu image (PNG, 2500 wide, ≤ 1 MB) from
areas, optional tabs and a theme; ``manage.py build_design_assets`` writes the
delivered design files in ``design/``. No models, no LINE API calls here.
"""
