"""modspike.export"""
