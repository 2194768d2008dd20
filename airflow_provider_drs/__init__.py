"""Disaster-recovery orchestration for AWS Elastic Disaster Recovery (DRS) on Apache Airflow."""

__version__ = "0.1.0"
