"""Scoring models on a data split: metrics, reports and predictions files."""
