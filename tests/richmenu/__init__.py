"""Tests of the rich-menu design set (line_channel.richmenu_design)."""
