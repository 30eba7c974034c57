"""c360: Customer 360 on Spark, Delta Lake and Splink."""

__version__ = "0.1.0"
