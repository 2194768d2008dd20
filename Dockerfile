# The image of docker-compose.yaml: the official Airflow 3.3 image with this provider installed
# (no _PIP_ADDITIONAL_REQUIREMENTS at start-up). Airflow itself stays at the image's version.
ARG AIRFLOW_VERSION=3.3.2
FROM apache/airflow:${AIRFLOW_VERSION}
ARG AIRFLOW_VERSION
COPY --chown=airflow:root setup.cfg pyproject.toml README.md /opt/airflow-provider-drs/
COPY --chown=airflow:root airflow_provider_drs /opt/airflow-provider-drs/airflow_provider_drs
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" "/opt/airflow-provider-drs[sim]" \
    && mkdir -p /opt/airflow/drs_reports
# (The reports folder exists in the image, owned by airflow, so the named volume mounted there is too.)
