FROM python:3.11-slim

# The service reads policies/ from the project folder (ACL_POLICY_DIR defaults to it), so the whole
# project is copied and installed editable rather than as a wheel.
WORKDIR /app
COPY . /app
RUN pip install --no-cache-dir -e . \
    && useradd --system --no-create-home --shell /usr/sbin/nologin acl

USER acl
ENV ACL_HOST=0.0.0.0 \
    ACL_PORT=8000
EXPOSE 8000
CMD ["acl-service", "serve"]
