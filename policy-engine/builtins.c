/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The builtin redaction detectors (`sanitize.redact: [{builtin: NAME}]`).
 * They run on everything a tool prints, so each is written to fail fast:
 * a literal prefix first, bounded or possessive repeats, no nested
 * quantifiers; the broker matches them under the engine's match limits too.
 * Where only the secret should go and its label stay, \K starts the match
 * after the label.
 */
#include "internal.h"

const struct tgp_builtin tgp_builtins[] = {
        {
                "aws_access_key",
                "\\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA)[A-Z0-9]{16}\\b",
                "AWS access key ids (AKIA..., ASIA...)",
        },
        {
                "aws_secret_key",
                "(?i)\\baws_?secret_?(?:access_?)?key\\b[\"']?\\s{0,8}[:=]\\s{0,8}[\"']?\\K"
                "[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])",
                "AWS secret access keys next to their usual label",
        },
        {
                "bearer_token",
                "(?i)\\bbearer[ \\t]{1,8}\\K[A-Za-z0-9\\-._~+/]{8,}+=*",
                "HTTP bearer tokens (Authorization: Bearer ...)",
        },
        {
                "private_key",
                "-----BEGIN[A-Z0-9 ]{0,40} PRIVATE KEY-----(?:[A-Za-z0-9+/=\\s:,.]|-(?!----))*+"
                "(?:-----END[A-Z0-9 ]{0,40} PRIVATE KEY-----)?",
                "PEM private key blocks (RSA, EC, OPENSSH, PKCS#8, ...)",
        },
        {
                "github_token",
                "\\b(?:gh[pousr]_[A-Za-z0-9]{36,255}+|github_pat_[A-Za-z0-9_]{22,255}+)",
                "GitHub tokens (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_)",
        },
        {
                "slack_token",
                "\\bxox[abposr]-[A-Za-z0-9-]{10,}+",
                "Slack tokens (xoxb-, xoxp-, ...)",
        },
        {
                "jwt",
                "\\beyJ[A-Za-z0-9_-]{8,}+\\.eyJ[A-Za-z0-9_-]{8,}+\\.[A-Za-z0-9_-]{8,}+",
                "JSON Web Tokens",
        },
        {
                "password",
                "(?i)\\b(?:password|passwd|pwd|secret|api[_-]?key|access[_-]?token|auth[_-]?token)"
                "[\"']?[ \\t]{0,8}[:=][ \\t]{0,8}[\"']?\\K[^\\s\"'&,;]{4,}+",
                "values of password=, secret:, api_key= ... assignments (the label is kept)",
        },
};

const size_t tgp_n_builtins = sizeof(tgp_builtins) / sizeof(tgp_builtins[0]);
