"""Folders, videos and tables: frame-by-frame analysis, face tracking, annotated copies, timelines."""
