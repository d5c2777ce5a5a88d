"""Driver script for ``spark-submit``: build the panel on the cluster and write it as Parquet.

``engage panel --engine spark`` as a file Spark can submit (the package must be installed on the driver;
the executors need nothing from it: they run Spark SQL only). Arguments are those of ``engage panel``.

Example::

    spark-submit --master yarn --driver-memory 8g --executor-memory 8g --num-executors 20 \\
        "$(python -c 'import engage_models.features.spark_job as j; print(j.__file__)')" \\
        --processed s3a://lake/engage/processed --out s3a://lake/engage/panel/2025-06-01 --until 2025-06-01
"""

from __future__ import annotations

import sys

from ..cli import main as cli_main


def main(argv: list[str] | None = None) -> int:
    """``engage panel --engine spark ARGS`` (``--spark-master`` defaults to the one spark-submit was given)."""
    args = list(sys.argv[1:] if argv is None else argv)
    return cli_main(["panel", "--engine", "spark", *args])


if __name__ == "__main__":
    sys.exit(main())
