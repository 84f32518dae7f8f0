FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=tracker.settings.production
WORKDIR /app
# WeasyPrint (the PDF briefing) needs Pango; Chinese briefings need a CJK font.
RUN apt-get update && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY requirements/lock.txt requirements/
RUN pip install --no-cache-dir --require-hashes -r requirements/lock.txt && pip install --no-cache-dir --no-deps -e .
COPY . .
RUN pybabel compile --domain django --directory locale --statistics
# Collecting static files touches neither service; production settings only insist that both are named.
RUN DJANGO_SECRET_KEY=collectstatic-only DATABASE_URL=sqlite:////tmp/build.sqlite3 REDIS_URL=redis://unused:6379/0 \
    python manage.py collectstatic --noinput
RUN useradd --create-home tracker
USER tracker
EXPOSE 8000
# gunicorn sends "Server: gunicorn" without its version; the reverse proxy removes it (see docker-compose.yml).
CMD ["gunicorn", "tracker.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
