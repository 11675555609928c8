"""Questions an examiner would draw from the PLANISO privacy policy, asked of rules/planiso.

Each row of ``SCENARIOS`` is one question: the section of the policy it comes from, the request
(party, data, purpose, context) and the answer the policy text gives (effect, obligations, and the
rule expected to decide it where that matters). The answers were derived from the policy text
(shared/seed/planiso-privacy-policy.txt) and the vocabulary contract
(shared/spec/planiso-vocabulary.md) before the rules were read. Questions where the encoding's
answer differs from the text are deliberately left out of this table and reported separately.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import policy_engine
from policy_engine.cli.main import main as cli_main

PLANISO = Path(__file__).resolve().parent.parent / "rules" / "planiso"
EAP = "ensure_adequate_protection"
DEFAULT_DENY = "(default deny)"  # no rule decides: nothing grants the request

# Every numbered section of the policy text (there is no heading "5", only "5.1").
POLICY_SECTIONS = {
    *("1", "1.1", "1.2", "1.3", "1.4"),
    *("2", "2.1", "2.2", "2.3"),
    *("3", "3.1", "3.2"),
    *("4", "4.1", "4.2"),
    "5.1",
    "6.1",
    *("7.1", "7.2"),
    "8",
    *("9", "9.1"),
    "10",
    "11",
}

# Context fragments used often.
EMAIL_OK = {"channel": "email", "opted_out_channels": []}
QC = {"destination": "CA-QC"}


def row(
    id_: str,
    section: str,
    party: str,
    data: str,
    purpose: str,
    context: dict[str, Any],
    effect: str,
    *,
    obligations: tuple[str, ...] = (),
    rule: str | None = None,
    missing: tuple[str, ...] | None = None,
) -> Any:
    """One question. ``rule``: the id expected among the deciding rules, DEFAULT_DENY for a deny
    that no rule decides, None when it does not matter. ``missing``: the exact missing keys, or
    None when not checked. Obligations are always checked exactly (none unless given)."""
    return pytest.param(
        section,
        party,
        data,
        purpose,
        context,
        effect,
        obligations,
        rule,
        missing,
        id=id_,
    )


SCENARIOS = [
    # ---- §1.1–§1.3 consent and its withdrawal --------------------------------------------------
    row(
        "1.1-customer-service-with-consent",
        "§1.1",
        "customer_service",
        "email",
        "respond_to_requests",
        {"consented_purposes": ["respond_to_requests"]},
        "allow",
        rule="customer_service_contact",
        missing=(),
    ),
    row(
        "1.3-customer-service-after-withdrawal",
        "§1.3",
        "customer_service",
        "email",
        "respond_to_requests",
        {"consented_purposes": []},
        "deny",
        rule=DEFAULT_DENY,
        missing=(),
    ),
    row(
        "1.1-consent-unstated-fails-closed",
        "§1.1",
        "customer_service",
        "email",
        "respond_to_requests",
        {},
        "deny",
        rule=DEFAULT_DENY,
        missing=("consented_purposes",),
    ),
    row(
        "1.1-planiso-respond-with-consent",
        "§1.1",
        "planiso",
        "name",
        "respond_to_requests",
        {"consented_purposes": ["respond_to_requests"]},
        "allow",
        rule="respond_to_requests_with_consent",
    ),
    row(
        "1.3-planiso-respond-after-withdrawal",
        "§1.3",
        "planiso",
        "name",
        "respond_to_requests",
        {"consented_purposes": []},
        "deny",
        rule=DEFAULT_DENY,
    ),
    row(
        "1.3-marketing-communication-after-withdrawal",
        "§1.3",
        "marketing_department",
        "email",
        "marketing_communication",
        {"consented_purposes": [], **EMAIL_OK},
        "deny",
        rule=DEFAULT_DENY,
    ),
    row(
        "1.3-rnd-after-withdrawal",
        "§1.3",
        "rnd_partners",
        "ip_address",
        "research_and_development",
        {"consented_purposes": [], **QC},
        "deny",
        rule=DEFAULT_DENY,
    ),
    row(
        "1.3-payment-provider-after-withdrawal",
        "§1.3",
        "payment_providers",
        "payment_details",
        "payment_processing",
        {"consented_purposes": [], **QC},
        "deny",
        rule=DEFAULT_DENY,
    ),
    # ---- §4.2 granular consent -------------------------------------------------------------------
    row(
        "4.2-consent-to-another-use-only",
        "§4.2",
        "marketing_department",
        "email",
        "marketing_communication",
        {"consented_purposes": ["respond_to_requests"], **EMAIL_OK},
        "deny",
        rule=DEFAULT_DENY,
    ),
    row(
        "4.2-consent-to-marketing-covers-communication",
        "§4.2",
        "marketing_department",
        "email",
        "marketing_communication",
        {"consented_purposes": ["marketing"], **EMAIL_OK},
        "allow",
        rule="marketing_department_communication",
    ),
    row(
        "4.2-consent-to-exact-purpose",
        "§4.2",
        "marketing_department",
        "name",
        "marketing_communication",
        {"consented_purposes": ["marketing_communication"], **EMAIL_OK},
        "allow",
        rule="marketing_department_communication",
    ),
    row(
        "4.2-consent-to-child-does-not-cover-sibling",
        "§4.2",
        "marketing_department",
        "email",
        "advertising",
        {"consented_purposes": ["marketing_communication"]},
        "deny",
        rule=DEFAULT_DENY,
    ),
    row(
        "4.2-consent-to-transactions-covers-payment",
        "§4.2",
        "payment_providers",
        "payment_details",
        "payment_processing",
        {"consented_purposes": ["transaction_management"], **QC},
        "allow",
        rule="payment_providers_financial",
    ),
    row(
        "4.2-consent-to-receipts-not-payment",
        "§4.2",
        "payment_providers",
        "payment_details",
        "payment_processing",
        {"consented_purposes": ["receipts"], **QC},
        "deny",
        rule=DEFAULT_DENY,
    ),
    # ---- §1.4 exceptions to consent -----------------------------------------------------------
    row(
        "1.4-law-enforcement-after-withdrawal",
        "§1.4",
        "law_enforcement",
        "personal_information",
        "law_enforcement_request",
        {"consented_purposes": []},
        "allow",
        rule="law_enforcement_needs",
    ),
    row(
        "1.4-law-enforcement-needs-no-consent-key",
        "§1.4",
        "law_enforcement",
        "name",
        "law_enforcement_request",
        {},
        "allow",
        rule="law_enforcement_needs",
        missing=(),
    ),
    row(
        "1.4-law-enforcement-not-for-marketing",
        "§1.4",
        "law_enforcement",
        "email",
        "marketing_communication",
        {"consented_purposes": ["marketing"], **EMAIL_OK},
        "deny",
        rule=DEFAULT_DENY,
    ),
    row(
        "1.4-law-enforcement-only-its-needs",
        "§1.4",
        "law_enforcement",
        "name",
        "fraud_prevention",
        {},
        "deny",
        rule=DEFAULT_DENY,
    ),
    row(
        "1.4-planiso-fraud-prevention-without-consent",
        "§1.4",
        "planiso",
        "online_activity",
        "fraud_prevention",
        {"consented_purposes": []},
        "allow",
        rule="consent_exempt_imperatives",
    ),
    row(
        "1.4-planiso-emergency-without-consent",
        "§1.4",
        "planiso",
        "phone_number",
        "emergency",
        {"consented_purposes": []},
        "allow",
        rule="consent_exempt_imperatives",
    ),
    row(
        "1.4-planiso-suspected-breach-of-contract",
        "§1.4",
        "planiso",
        "name",
        "contract_breach_investigation",
        {},
        "allow",
        rule="consent_exempt_imperatives",
    ),
    row(
        "1.4-security-officers-fraud-detection",
        "§1.4",
        "security_officers",
        "online_activity",
        "fraud_prevention",
        {"consented_purposes": []},
        "allow",
        rule="security_officers_protection",
    ),
    row(
        "1.4-legal-consultants-breach-of-contract",
        "§1.4",
        "legal_consultants",
        "personal_information",
        "contract_breach_investigation",
        {"consented_purposes": [], **QC},
        "allow",
        rule="legal_consultants_compliance",
    ),
    row(
        "1.4-marketing-is-not-law-enforcement",
        "§1.4",
        "marketing_department",
        "email",
        "law_enforcement_request",
        {},
        "deny",
        rule=DEFAULT_DENY,
    ),
    # ---- §2.3 profiling, disabled by default --------------------------------------------------
    row(
        "2.3-profiling-off-by-default",
        "§2.3",
        "marketing_department",
        "online_activity",
        "profiling",
        {"consented_purposes": ["profiling"], "cookies_accepted": True},
        "deny",
        rule="profiling_disabled_by_default",
        missing=(),
    ),
    row(
        "2.3-profiling-disabled",
        "§2.3",
        "marketing_department",
        "online_activity",
        "profiling",
        {"consented_purposes": ["profiling"], "profiling_enabled": False, "cookies_accepted": True},
        "deny",
        rule="profiling_disabled_by_default",
    ),
    row(
        "2.3-profiling-enabled-with-consent",
        "§2.3",
        "marketing_department",
        "online_activity",
        "profiling",
        {"consented_purposes": ["profiling"], "profiling_enabled": True, "cookies_accepted": True},
        "allow",
        rule="profiling_when_enabled",
    ),
    row(
        "2.3-profiling-enabled-but-consent-withdrawn",
        "§2.3",
        "marketing_department",
        "online_activity",
        "profiling",
        {"consented_purposes": [], "profiling_enabled": True, "cookies_accepted": True},
        "deny",
        rule=DEFAULT_DENY,
    ),
    row(
        "2.3-planiso-profiling-enabled",
        "§2.3",
        "planiso",
        "email",
        "profiling",
        {"consented_purposes": ["profiling"], "profiling_enabled": True},
        "allow",
        rule="profiling_when_enabled",
    ),
    row(
        "2.3-consumer-profile-needs-profiling",
        "§2.3",
        "marketing_department",
        "consumer_profile",
        "advertising",
        {"consented_purposes": ["marketing"]},
        "deny",
        rule="consumer_profiles_need_profiling",
    ),
    row(
        "2.3-consumer-profile-for-advertising-once-enabled",
        "§2.3",
        "marketing_department",
        "consumer_profile",
        "advertising",
        {"consented_purposes": ["marketing"], "profiling_enabled": True},
        "allow",
        rule="marketing_campaigns_and_research",
    ),
    row(
        "2.3-consumer-profile-personalization-once-enabled",
        "§2.3",
        "planiso",
        "consumer_profile",
        "personalization",
        {"consented_purposes": ["user_experience"], "profiling_enabled": True},
        "allow",
        rule="personalization_with_profiles",
    ),
    # ---- §3.2 children under 14 --------------------------------------------------------------
    row(
        "3.2-child-12-request",
        "§3.2",
        "customer_service",
        "email",
        "respond_to_requests",
        {"consented_purposes": ["respond_to_requests"], "subject_age": 12},
        "deny",
        rule="children_under_14",
    ),
    row(
        "3.2-age-14-is-not-a-child",
        "§3.2",
        "customer_service",
        "email",
        "respond_to_requests",
        {"consented_purposes": ["respond_to_requests"], "subject_age": 14},
        "allow",
        rule="customer_service_contact",
    ),
    row(
        "3.2-child-13-marketing",
        "§3.2",
        "marketing_department",
        "email",
        "marketing_communication",
        {"consented_purposes": ["marketing"], "subject_age": 13, **EMAIL_OK},
        "deny",
        rule="children_under_14",
    ),
    row(
        "3.2-child-law-enforcement-still-allowed",
        "§3.2",
        "law_enforcement",
        "name",
        "law_enforcement_request",
        {"subject_age": 10},
        "allow",
        rule="law_enforcement_needs",
    ),
    row(
        "3.2-child-data-removal-request",
        "§3.2",
        "data_subject",
        "personal_information",
        "deindexing_request",
        {"identity_verified": True, "subject_age": 12},
        "allow",
        rule="rights_requests_after_identity_verification",
    ),
    # ---- §4.1 uses ---------------------------------------------------------------------------
    row(
        "4.1-receipts",
        "§4.1",
        "planiso",
        "payment_details",
        "receipts",
        {"consented_purposes": ["transaction_management"]},
        "allow",
        rule="transaction_management_with_consent",
    ),
    row(
        "4.1-registrations",
        "§4.1",
        "planiso",
        "email",
        "registrations",
        {"consented_purposes": ["registrations"]},
        "allow",
        rule="registrations_with_consent",
    ),
    row(
        "4.1-recruitment",
        "§4.1",
        "hr_department",
        "resume",
        "recruitment",
        {"consented_purposes": ["hr_management"]},
        "allow",
        rule="human_resources_management",
    ),
    row(
        "4.1-employment-contracts",
        "§4.1",
        "hr_department",
        "employment_contract",
        "hr_management",
        {"consented_purposes": ["hr_management"]},
        "allow",
        rule="human_resources_management",
    ),
    row(
        "4.1-hr-not-payment-details",
        "§4.1",
        "hr_department",
        "payment_details",
        "hr_management",
        {"consented_purposes": ["hr_management"]},
        "deny",
        rule=DEFAULT_DENY,
    ),
    row(
        "4.1-hr-records-not-for-marketing",
        "§4.1",
        "marketing_department",
        "resume",
        "advertising",
        {"consented_purposes": ["marketing"]},
        "deny",
        rule=DEFAULT_DENY,
    ),
    row(
        "4.1-website-operation",
        "§4.1",
        "it_department",
        "ip_address",
        "website_operation",
        {"consented_purposes": ["user_experience"]},
        "allow",
        rule="it_website_maintenance",
    ),
    row(
        "4.1-personalization-with-cookies",
        "§4.1",
        "planiso",
        "online_activity",
        "personalization",
        {"consented_purposes": ["user_experience"], "cookies_accepted": True},
        "allow",
        rule="user_experience_with_consent",
    ),
    row(
        "4.1-account-management",
        "§4.1",
        "planiso",
        "email",
        "account_management",
        {"consented_purposes": ["account_management"]},
        "allow",
        rule="account_management_with_consent",
    ),
    row(
        "4.1-planiso-marketing-communication",
        "§4.1",
        "planiso",
        "email",
        "marketing_communication",
        {"consented_purposes": ["marketing"], **EMAIL_OK},
        "allow",
        rule="marketing_communication_with_consent",
    ),
    row(
        "7.1-unspecified-staff-gets-nothing",
        "§7.1",
        "staff",
        "email",
        "respond_to_requests",
        {"consented_purposes": ["respond_to_requests"]},
        "deny",
        rule=DEFAULT_DENY,
    ),
    # ---- §4.2 communication preferences: opt-out by channel, complete opt-out ----------------
    row(
        "4.2-sms-opted-out",
        "§4.2",
        "marketing_department",
        "phone_number",
        "marketing_communication",
        {"consented_purposes": ["marketing"], "channel": "sms", "opted_out_channels": ["sms"]},
        "deny",
        rule="communication_channel_opt_out",
    ),
    row(
        "4.2-email-while-sms-opted-out",
        "§4.2",
        "marketing_department",
        "email",
        "marketing_communication",
        {"consented_purposes": ["marketing"], "channel": "email", "opted_out_channels": ["sms"]},
        "allow",
        rule="marketing_department_communication",
    ),
    row(
        "4.2-complete-opt-out",
        "§4.2",
        "marketing_department",
        "email",
        "marketing_communication",
        {
            "consented_purposes": ["marketing"],
            "channel": "email",
            "opted_out_channels": ["email", "sms", "phone"],
        },
        "deny",
        rule="communication_channel_opt_out",
    ),
    row(
        "4.2-phone-opted-out",
        "§4.2",
        "marketing_department",
        "phone_number",
        "marketing_communication",
        {"consented_purposes": ["marketing"], "channel": "phone", "opted_out_channels": ["phone"]},
        "deny",
        rule="communication_channel_opt_out",
    ),
    row(
        "4.2-channel-unknown-fails-closed",
        "§4.2",
        "marketing_department",
        "email",
        "marketing_communication",
        {"consented_purposes": ["marketing"], "opted_out_channels": []},
        "deny",
        rule="communication_channel_opt_out",
        missing=("channel",),
    ),
    row(
        "4.2-opt-outs-unknown-fails-closed",
        "§4.2",
        "marketing_department",
        "email",
        "marketing_communication",
        {"consented_purposes": ["marketing"], "channel": "email"},
        "deny",
        rule="communication_channel_opt_out",
        missing=("opted_out_channels",),
    ),
    row(
        "4.2-planiso-sms-opted-out",
        "§4.2",
        "planiso",
        "phone_number",
        "marketing_communication",
        {"consented_purposes": ["marketing"], "channel": "sms", "opted_out_channels": ["sms"]},
        "deny",
        rule="communication_channel_opt_out",
    ),
    # ---- §4.2 cookie management -----------------------------------------------------------------
    row(
        "4.2-cookies-refused-personalization",
        "§4.2",
        "planiso",
        "online_activity",
        "personalization",
        {"consented_purposes": ["user_experience"], "cookies_accepted": False},
        "deny",
        rule="refused_cookies",
    ),
    row(
        "4.2-cookies-unknown-fails-closed",
        "§4.2",
        "planiso",
        "online_activity",
        "personalization",
        {"consented_purposes": ["user_experience"]},
        "deny",
        rule="refused_cookies",
        missing=("cookies_accepted",),
    ),
    row(
        "4.2-cookies-refused-market-research",
        "§4.2",
        "marketing_department",
        "online_activity",
        "market_research",
        {"consented_purposes": ["marketing"], "cookies_accepted": False},
        "deny",
        rule="refused_cookies",
    ),
    row(
        "4.2-cookies-accepted-market-research",
        "§4.2",
        "marketing_department",
        "online_activity",
        "market_research",
        {"consented_purposes": ["marketing"], "cookies_accepted": True},
        "allow",
        rule="marketing_campaigns_and_research",
    ),
    row(
        "4.2-cookies-refused-research-partners",
        "§4.2",
        "rnd_partners",
        "online_activity",
        "research_and_development",
        {"consented_purposes": ["research_and_development"], "cookies_accepted": False, **QC},
        "deny",
        rule="refused_cookies",
    ),
    row(
        "4.2-cookies-refused-internal-analysis",
        "§4.2",
        "planiso",
        "online_activity",
        "internal_analytics",
        {"cookies_accepted": False},
        "deny",
        rule="refused_cookies",
    ),
    row(
        "4.2-cookies-accepted-personalization",
        "§4.2",
        "planiso",
        "online_activity",
        "personalization",
        {"consented_purposes": ["user_experience"], "cookies_accepted": True},
        "allow",
    ),
    # ---- §8 usage data for internal analysis ---------------------------------------------------
    row(
        "8-internal-analysis-usage-data",
        "§8",
        "planiso",
        "online_activity",
        "internal_analytics",
        {"cookies_accepted": True},
        "allow",
        rule="internal_analysis_of_usage_data",
    ),
    row(
        "8-it-internal-analysis-ip",
        "§8",
        "it_department",
        "ip_address",
        "internal_analytics",
        {},
        "allow",
        rule="internal_analysis_of_usage_data",
    ),
    # ---- §5.1 recipients and least privilege ---------------------------------------------------
    row(
        "5.1-customer-service-contact-information",
        "§5.1",
        "customer_service",
        "contact_information",
        "respond_to_requests",
        {"consented_purposes": ["respond_to_requests"]},
        "allow",
        rule="customer_service_contact",
    ),
    row(
        "5.1-customer-service-not-payment-details",
        "§5.1",
        "customer_service",
        "payment_details",
        "respond_to_requests",
        {"consented_purposes": ["respond_to_requests"]},
        "deny",
        rule=DEFAULT_DENY,
    ),
    row(
        "5.1-it-technical-data-for-support",
        "§5.1",
        "it_department",
        "technical_information",
        "technical_support",
        {"consented_purposes": ["technical_support"]},
        "allow",
        rule="it_technical_support",
    ),
    row(
        "5.1-it-not-payment-details",
        "§5.1",
        "it_department",
        "payment_details",
        "technical_support",
        {"consented_purposes": ["technical_support"]},
        "deny",
        rule=DEFAULT_DENY,
    ),
    row(
        "5.1-it-not-contact-information",
        "§5.1",
        "it_department",
        "email",
        "technical_support",
        {},
        "deny",
        rule=DEFAULT_DENY,
    ),
    row(
        "5.1-marketing-advertising",
        "§5.1",
        "marketing_department",
        "email",
        "advertising",
        {"consented_purposes": ["marketing"]},
        "allow",
        rule="marketing_campaigns_and_research",
    ),
    row(
        "5.1-marketing-not-payment-details",
        "§5.1",
        "marketing_department",
        "payment_details",
        "market_research",
        {"consented_purposes": ["marketing"]},
        "deny",
        rule=DEFAULT_DENY,
    ),
    row(
        "5.1-marketing-not-financial-information",
        "§5.1",
        "marketing_department",
        "financial_information",
        "advertising",
        {"consented_purposes": ["marketing"]},
        "deny",
        rule=DEFAULT_DENY,
    ),
    row(
        "5.1-delivery-address-in-quebec",
        "§5.1",
        "delivery_partners",
        "postal_address",
        "order_delivery",
        {"consented_purposes": ["order_delivery"], **QC},
        "allow",
        rule="delivery_partners_addresses",
        missing=(),
    ),
    row(
        "5.1-delivery-address-outside-quebec",
        "§5.1",
        "delivery_partners",
        "postal_address",
        "order_delivery",
        {"consented_purposes": ["order_delivery"], "destination": "CA-ON"},
        "allow",
        obligations=(EAP,),
        rule="delivery_partners_addresses",
    ),
    row(
        "5.1-delivery-not-payment-details",
        "§5.1",
        "delivery_partners",
        "payment_details",
        "order_delivery",
        {"consented_purposes": ["order_delivery"], **QC},
        "deny",
        rule=DEFAULT_DENY,
    ),
    row(
        "5.1-delivery-not-email",
        "§5.1",
        "delivery_partners",
        "email",
        "order_delivery",
        {"consented_purposes": ["order_delivery"], **QC},
        "deny",
        rule=DEFAULT_DENY,
    ),
    row(
        "5.1-delivery-addresses-only-for-delivery",
        "§5.1",
        "delivery_partners",
        "postal_address",
        "marketing_communication",
        {"consented_purposes": ["marketing"], **EMAIL_OK, **QC},
        "deny",
        rule=DEFAULT_DENY,
    ),
    row(
        "5.1-payment-provider-outside-quebec",
        "§5.1",
        "payment_providers",
        "financial_information",
        "payment_processing",
        {"consented_purposes": ["transaction_management"], "destination": "US"},
        "allow",
        obligations=(EAP,),
        rule="payment_providers_financial",
    ),
    row(
        "5.1-payment-provider-not-online-activity",
        "§5.1",
        "payment_providers",
        "online_activity",
        "payment_processing",
        {"consented_purposes": ["transaction_management"], "cookies_accepted": True, **QC},
        "deny",
        rule=DEFAULT_DENY,
    ),
    row(
        "5.1-security-officers",
        "§5.1",
        "security_officers",
        "personal_information",
        "security_protection",
        {},
        "allow",
        rule="security_officers_protection",
    ),
    row(
        "5.1-legal-consultants-in-quebec",
        "§5.1",
        "legal_consultants",
        "personal_information",
        "legal_compliance",
        QC,
        "allow",
        rule="legal_consultants_compliance",
    ),
    row(
        "5.1-legal-consultants-outside-quebec",
        "§5.1",
        "legal_consultants",
        "personal_information",
        "legal_compliance",
        {"destination": "US"},
        "allow",
        obligations=(EAP,),
        rule="legal_consultants_compliance",
    ),
    row(
        "5.1-cloud-hosting-in-quebec",
        "§5.1",
        "cloud_providers",
        "personal_information",
        "data_hosting",
        QC,
        "allow",
        rule="cloud_providers_hosting",
    ),
    row(
        "5.1-cloud-hosting-outside-quebec",
        "§5.1",
        "cloud_providers",
        "personal_information",
        "data_hosting",
        {"destination": "US"},
        "allow",
        obligations=(EAP,),
        rule="cloud_providers_hosting",
    ),
    row(
        "5.1-cloud-not-for-marketing",
        "§5.1",
        "cloud_providers",
        "email",
        "advertising",
        {"consented_purposes": ["marketing"], **QC},
        "deny",
        rule=DEFAULT_DENY,
    ),
    row(
        "5.1-rnd-technical-data",
        "§5.1",
        "rnd_partners",
        "technical_information",
        "research_and_development",
        {"consented_purposes": ["research_and_development"], "cookies_accepted": True, **QC},
        "allow",
        rule="rnd_partners_collaboration",
    ),
    row(
        "4.2-rnd-all-technical-data-cookies-refused",
        "§4.2",
        "rnd_partners",
        "technical_information",
        "research_and_development",
        {"consented_purposes": ["research_and_development"], "cookies_accepted": False, **QC},
        "deny",
        rule="refused_cookies",
    ),
    row(
        "4.2-rnd-ip-address-not-cookie-data",
        "§4.2",
        "rnd_partners",
        "ip_address",
        "research_and_development",
        {"consented_purposes": ["research_and_development"], "cookies_accepted": False, **QC},
        "allow",
        rule="rnd_partners_collaboration",
    ),
    row(
        "8-customer-service-no-internal-analytics",
        "§7.1",
        "customer_service",
        "ip_address",
        "internal_analytics",
        {},
        "deny",
    ),
    row(
        "5.1-marketing-abroad-gets-obligation",
        "§5.1",
        "marketing_department",
        "email",
        "advertising",
        {"consented_purposes": ["marketing"], "destination": "US"},
        "allow",
        rule="marketing_campaigns_and_research",
        obligations=("ensure_adequate_protection",),
    ),
    row(
        "5.1-delivery-after-withdrawal",
        "§1.3",
        "delivery_partners",
        "postal_address",
        "order_delivery",
        {"consented_purposes": [], **QC},
        "deny",
    ),
    row(
        "3.2-child-complaint-allowed",
        "§3.2",
        "customer_service",
        "name",
        "complaint",
        {"subject_age": 12},
        "allow",
        rule="customer_service_handles_rights_requests",
    ),
    row(
        "5.1-rnd-outside-quebec",
        "§5.1",
        "rnd_partners",
        "ip_address",
        "research_and_development",
        {"consented_purposes": ["research_and_development"], "destination": "US"},
        "allow",
        obligations=(EAP,),
        rule="rnd_partners_collaboration",
    ),
    row(
        "5.1-rnd-not-payment-details",
        "§5.1",
        "rnd_partners",
        "payment_details",
        "research_and_development",
        {"consented_purposes": ["research_and_development"], **QC},
        "deny",
        rule=DEFAULT_DENY,
    ),
    row(
        "5.1-collection-on-non-payment",
        "§5.1",
        "collection_agencies",
        "contact_information",
        "debt_collection",
        {"non_payment": True, **QC},
        "allow",
        rule="collection_agencies_non_payment",
    ),
    row(
        "5.1-collection-without-non-payment",
        "§5.1",
        "collection_agencies",
        "contact_information",
        "debt_collection",
        {"non_payment": False, **QC},
        "deny",
        rule=DEFAULT_DENY,
        missing=(),
    ),
    row(
        "5.1-collection-non-payment-unknown",
        "§5.1",
        "collection_agencies",
        "contact_information",
        "debt_collection",
        QC,
        "deny",
        rule=DEFAULT_DENY,
        missing=("non_payment",),
    ),
    row(
        "5.1-collection-outside-quebec",
        "§5.1",
        "collection_agencies",
        "financial_information",
        "debt_collection",
        {"non_payment": True, "destination": "CA-ON"},
        "allow",
        obligations=(EAP,),
        rule="collection_agencies_non_payment",
    ),
    row(
        "5.1-collection-not-for-marketing",
        "§5.1",
        "collection_agencies",
        "email",
        "advertising",
        {"non_payment": True, "consented_purposes": ["marketing"], **QC},
        "deny",
        rule=DEFAULT_DENY,
    ),
    row(
        "5.1-collection-not-online-activity",
        "§5.1",
        "collection_agencies",
        "ip_address",
        "debt_collection",
        {"non_payment": True, **QC},
        "deny",
        rule=DEFAULT_DENY,
    ),
    # ---- §9 rights, after identity verification --------------------------------------------------
    row(
        "9-access-verified",
        "§9",
        "data_subject",
        "personal_information",
        "access_request",
        {"identity_verified": True},
        "allow",
        rule="rights_requests_after_identity_verification",
    ),
    row(
        "9-access-unverified",
        "§9",
        "data_subject",
        "personal_information",
        "access_request",
        {"identity_verified": False},
        "deny",
        rule=DEFAULT_DENY,
        missing=(),
    ),
    row(
        "9-access-verification-unknown",
        "§9",
        "data_subject",
        "personal_information",
        "access_request",
        {},
        "deny",
        rule=DEFAULT_DENY,
        missing=("identity_verified",),
    ),
    row(
        "9-rectification-verified",
        "§9",
        "data_subject",
        "postal_address",
        "rectification_request",
        {"identity_verified": True},
        "allow",
        rule="rights_requests_after_identity_verification",
    ),
    row(
        "9-deindexing-verified",
        "§9",
        "data_subject",
        "name",
        "deindexing_request",
        {"identity_verified": True},
        "allow",
        rule="rights_requests_after_identity_verification",
    ),
    row(
        "9-complaint-verified",
        "§9",
        "data_subject",
        "personal_information",
        "complaint",
        {"identity_verified": True},
        "allow",
        rule="complaints_follow_the_established_process",
    ),
    row(
        "9-complaint-without-verification",
        "§9",
        "data_subject",
        "personal_information",
        "complaint",
        {},
        "allow",
        rule="complaints_follow_the_established_process",
        missing=(),
    ),
    row(
        "9-data-subject-only-for-rights",
        "§9",
        "data_subject",
        "email",
        "marketing_communication",
        {"identity_verified": True, "consented_purposes": ["marketing"], **EMAIL_OK},
        "deny",
        rule=DEFAULT_DENY,
    ),
    row(
        "9-marketing-cannot-make-access-requests",
        "§9",
        "marketing_department",
        "email",
        "access_request",
        {"identity_verified": True},
        "deny",
        rule=DEFAULT_DENY,
    ),
    row(
        "9-customer-service-handles-request",
        "§9",
        "customer_service",
        "name",
        "access_request",
        {},
        "allow",
        rule="customer_service_handles_rights_requests",
    ),
    row(
        "9-customer-service-not-payment-details",
        "§9",
        "customer_service",
        "payment_details",
        "access_request",
        {},
        "deny",
        rule=DEFAULT_DENY,
    ),
]


def _decide(policy: policy_engine.Policy, values: Any) -> policy_engine.Decision:
    _section, party, data, purpose, context, *_ = values
    return policy.decide(party=party, data=data, purpose=purpose, context=context)


@pytest.mark.parametrize(
    ("section", "party", "data", "purpose", "context", "effect", "obligations", "rule", "missing"),
    SCENARIOS,
)
def test_scenario(
    planiso: policy_engine.Policy,
    section: str,
    party: str,
    data: str,
    purpose: str,
    context: dict[str, Any],
    effect: str,
    obligations: tuple[str, ...],
    rule: str | None,
    missing: tuple[str, ...] | None,
) -> None:
    decision = planiso.decide(party=party, data=data, purpose=purpose, context=context)
    reasons = [r.id for r in decision.reasons]
    note = f"{section}: {decision!r}"
    assert decision.effect == effect, note
    assert decision.allowed is (effect == "allow"), note
    assert sorted(decision.obligations) == sorted(obligations), note
    if rule == DEFAULT_DENY:
        assert reasons == [], note
    elif rule is not None:
        assert rule in reasons, note
    if missing is not None:
        assert sorted(decision.missing) == sorted(missing), note


def test_scenario_table_is_well_formed() -> None:
    ids = [p.id for p in SCENARIOS]
    assert len(ids) == len(set(ids)), "scenario ids must be unique"
    assert len(SCENARIOS) >= 50
    for p in SCENARIOS:
        section = p.values[0]
        assert re.fullmatch(r"§\d+(\.\d+)?", section), p.id
        assert section[1:] in POLICY_SECTIONS, p.id


# ---- the rule set as a whole -------------------------------------------------------------------


def _cited_sections(citation: str) -> list[str]:
    return re.findall(r"§\s*(\d+(?:\.\d+)?)", citation)


def test_every_rule_cites_a_section_of_the_policy(planiso: policy_engine.Policy) -> None:
    assert planiso.rules, "rules/planiso has no rules"
    for rule in planiso.rules:
        sections = _cited_sections(rule.citation)
        assert sections, f"rule {rule.id} ({rule.location}) cites no section"
        unknown = [s for s in sections if s not in POLICY_SECTIONS]
        assert not unknown, f"rule {rule.id} cites {unknown}, not sections of the policy"


def test_every_rule_is_exercised_by_a_scenario(planiso: policy_engine.Policy) -> None:
    exercised: set[str] = set()
    for p in SCENARIOS:
        exercised.update(r.id for r in _decide(planiso, p.values).reasons)
    never = sorted({r.id for r in planiso.rules} - exercised)
    assert not never, f"rules no scenario exercises: {never}"


def test_every_expected_rule_exists(planiso: policy_engine.Policy) -> None:
    ids = {r.id for r in planiso.rules}
    expected = {p.values[7] for p in SCENARIOS} - {None, DEFAULT_DENY}
    assert expected <= ids, sorted(expected - ids)


# ---- unknown facts and unknown terms fail closed ---------------------------------------------


@pytest.mark.parametrize(
    ("party", "data", "purpose"),
    [
        ("planiso", "email", "selling_data"),
        ("planiso", "dna_sample", "marketing"),
        ("advertising_network", "email", "advertising"),
    ],
    ids=["unknown-purpose", "unknown-data", "unknown-party"],
)
def test_unknown_terms_never_get_a_decision(
    planiso: policy_engine.Policy, party: str, data: str, purpose: str
) -> None:
    with pytest.raises(policy_engine.UnknownTermError):
        planiso.decide(party=party, data=data, purpose=purpose, context={})


def test_undeclared_context_key_is_rejected(planiso: policy_engine.Policy) -> None:
    with pytest.raises(policy_engine.RequestError):
        planiso.decide(
            party="customer_service",
            data="email",
            purpose="respond_to_requests",
            context={"consented_purposes": ["respond_to_requests"], "is_vip": True},
        )


def test_wrongly_typed_context_value_is_rejected(planiso: policy_engine.Policy) -> None:
    with pytest.raises(policy_engine.RequestError):
        planiso.decide(
            party="customer_service",
            data="email",
            purpose="respond_to_requests",
            context={"consented_purposes": ["respond_to_requests"], "subject_age": "twelve"},
        )


# ---- explanations name the deciding rule and the missing facts ------------------------------


def test_explanation_names_deny_rule_and_missing_keys(planiso: policy_engine.Policy) -> None:
    decision = planiso.decide(
        party="marketing_department",
        data="email",
        purpose="marketing_communication",
        context={"consented_purposes": ["marketing"]},
    )
    assert decision.effect == "deny"
    assert sorted(decision.missing) == ["channel", "opted_out_channels"]
    text = decision.explain()
    headline = text.splitlines()[0]
    assert headline.startswith("DENY")
    assert "communication_channel_opt_out" in headline
    assert "§4.2" in headline
    assert "channel" in headline
    assert "opted_out_channels" in headline
    assert "marketing_department_communication" in text  # overridden, still shown


def test_explanation_of_default_deny_names_missing_key(planiso: policy_engine.Policy) -> None:
    decision = planiso.decide(
        party="collection_agencies", data="email", purpose="debt_collection", context=QC
    )
    assert decision.effect == "deny"
    assert decision.missing == ["non_payment"]
    text = decision.explain()
    assert "non_payment" in text.splitlines()[0]
    assert "collection_agencies_non_payment" in text


def test_explanation_names_allow_rule_and_obligation(planiso: policy_engine.Policy) -> None:
    decision = planiso.decide(
        party="cloud_providers",
        data="email",
        purpose="data_hosting",
        context={"destination": "US"},
    )
    assert decision.allowed
    assert decision.obligations == [EAP]
    text = decision.explain()
    assert text.splitlines()[0].startswith("ALLOW")
    assert "cloud_providers_hosting" in text
    assert EAP in text
    assert '"US"' in text


def test_explanation_names_the_children_rule(planiso: policy_engine.Policy) -> None:
    decision = planiso.decide(
        party="customer_service",
        data="email",
        purpose="respond_to_requests",
        context={"consented_purposes": ["respond_to_requests"], "subject_age": 12},
    )
    headline = decision.explain().splitlines()[0]
    assert "children_under_14" in headline
    assert "§3.2" in headline


def test_reason_carries_citation_and_location(planiso: policy_engine.Policy) -> None:
    decision = planiso.decide(
        party="delivery_partners",
        data="postal_address",
        purpose="order_delivery",
        context={"destination": "CA-ON", "consented_purposes": ["order_delivery"]},
    )
    (reason,) = decision.reasons
    assert reason.id == "delivery_partners_addresses"
    assert decision.obligations == ["ensure_adequate_protection"]
    assert "§5.1" in reason.citation
    assert "planiso" in reason.location


def test_cli_explain_names_rule_and_exits_nonzero_on_deny(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = cli_main(
        [
            "explain",
            str(PLANISO),
            "--party",
            "delivery_partners",
            "--data",
            "payment_details",
            "--purpose",
            "order_delivery",
            "--context",
            '{"destination": "CA-QC"}',
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert out.startswith("DENY")
    assert "delivery_partners_addresses" in out  # the near miss: it covers addresses only


def test_cli_decide_allow_lists_obligation(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli_main(
        [
            "decide",
            str(PLANISO),
            "--party",
            "payment_providers",
            "--data",
            "payment_details",
            "--purpose",
            "payment_processing",
            "--context",
            '{"consented_purposes": ["transaction_management"], "destination": "US"}',
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("ALLOW")
    assert EAP in out
    assert "payment_providers_financial" in out
