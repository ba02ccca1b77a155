"""Static files in production: WhiteNoise's compressed, hashed storage, tolerant of source maps we do not ship."""

import posixpath

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """Leaves a `sourceMappingURL` comment as written when the map it names is not among the static files.

    Vendored builds (GraphiQL's, under notifications_project/static/graphiql/) name source maps that are not
    shipped; Django's storage would refuse to collect them. Left untouched, those files stay byte for byte
    what their integrity hashes say.
    """

    def url_converter(self, name, hashed_files, template=None):
        convert = super().url_converter(name, hashed_files, template)

        def converter(match):
            url = match["url"].strip()
            if "sourceMappingURL" in match["matched"] and not url.startswith(("/", "data:")):
                if not self.exists(posixpath.join(posixpath.dirname(name.replace("\\", "/")), url)):
                    return match["matched"]
            return convert(match)

        return converter
