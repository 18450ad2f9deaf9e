"""The XML request documents of the examples of docs/requests.md: for each operation, the
BSCS-style document (wsdl/requests.xsd) that maps to exactly the JSON envelope the page gives
for that operation."""

from __future__ import annotations

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<request xmlns="urn:bscs:requests:v1">
  <requestId>{request_id}</requestId>
  <user>{user}</user>
  <channel>{channel}</channel>
"""


def document(
    request_id: str,
    body: str,
    *,
    expected_version: int | None = None,
    user: str = "agent.mila",
    channel: str = "shop",
) -> str:
    head = HEAD.format(request_id=request_id, user=user, channel=channel)
    if expected_version is not None:
        head += f"  <expectedVersion>{expected_version}</expectedVersion>\n"
    return head + body.strip("\n") + "\n</request>\n"


BODIES: dict[str, tuple[str, str, int | None]] = {
    "customer.create": (
        "req-1001",
        """
  <customerNew>
    <custCode>C-1001</custCode>
    <individual>
      <firstName>Ana</firstName>
      <lastName>Müller</lastName>
      <birthDate>1984-05-17</birthDate>
    </individual>
    <identifications>
      <identification><type>tin</type><value>DE123456789</value><issuingCountry>DE</issuingCountry></identification>
    </identifications>
    <contactMedia>
      <contactMedium><type>email</type><value>ana@example.com</value><preferred>true</preferred></contactMedium>
    </contactMedia>
    <addresses>
      <address>
        <adrRole>B</adrRole><adrLine>Hauptstraße 1</adrLine>
        <adrZip>10115</adrZip><adrCity>Berlin</adrCity><adrCountry>DE</adrCountry>
      </address>
    </addresses>
    <contactPersons>
      <contactPerson><id>cp-1</id><role>AUTH</role><firstName>Jan</firstName><lastName>Müller</lastName></contactPerson>
    </contactPersons>
    <infoFields>
      <field><name>LOYALTY_TIER</name><value>silver</value></field>
    </infoFields>
    <account>
      <csIdPub>A-1001</csIdPub>
      <name>Ana Müller</name>
      <billCycle>01</billCycle>
      <paymentMethod>D</paymentMethod>
    </account>
  </customerNew>""",
        None,
    ),
    "customer.update": (
        "req-1002",
        """
  <customerWrite>
    <custCode>C-1001</custCode>
    <segment>premium</segment>
    <party><nationality>DE</nationality></party>
  </customerWrite>""",
        1,
    ),
    "customer.add_contact_person": (
        "req-1003",
        """
  <contactPersonAdd>
    <custCode>C-1001</custCode>
    <contactPerson>
      <id>cp-2</id><role>BILL</role><firstName>Eva</firstName><lastName>Müller</lastName>
      <contactMedia><contactMedium><type>email</type><value>eva@example.com</value></contactMedium></contactMedia>
    </contactPerson>
  </contactPersonAdd>""",
        None,
    ),
    "customer.remove_contact_person": (
        "req-1004",
        """
  <contactPersonRemove>
    <custCode>C-1001</custCode>
    <contactPersonId>cp-2</contactPersonId>
  </contactPersonRemove>""",
        None,
    ),
    "account.create": (
        "req-1005",
        """
  <accountNew>
    <custCode>C-1001</custCode>
    <csIdPub>A-1002</csIdPub>
    <name>Ana Müller family</name>
    <parentCsIdPub>A-1001</parentCsIdPub>
    <paymentResp>false</paymentResp>
  </accountNew>""",
        None,
    ),
    "account.set_payment_responsibility": (
        "req-1006",
        """
  <paymentResponsibilityWrite>
    <csIdPub>A-1002</csIdPub>
    <paymentResp>true</paymentResp>
  </paymentResponsibilityWrite>""",
        None,
    ),
    "account.move": (
        "req-1007",
        """
  <customerHierarchyWrite>
    <csIdPub>A-1002</csIdPub>
    <root/>
  </customerHierarchyWrite>""",
        None,
    ),
    "contract.create": (
        "req-1008",
        """
  <contractNew>
    <csIdPub>A-1001</csIdPub>
    <coIdPub>K-1001</coIdPub>
    <rpCode>RP_M</rpCode>
    <salesApplNo>SA-5001</salesApplNo>
    <coStatus>a</coStatus>
    <dnNum>4917012340001</dnNum>
    <imsi>262011234567890</imsi>
    <smNum>8949000000000010017</smNum>
  </contractNew>""",
        None,
    ),
    "contract.change_status": (
        "req-1009",
        """
  <contractStatusWrite>
    <coIdPub>K-1001</coIdPub>
    <action>s</action>
    <reason>customer request</reason>
  </contractStatusWrite>""",
        None,
    ),
    "service.add": (
        "req-1010",
        """
  <contractServiceAdd>
    <coIdPub>K-1001</coIdPub>
    <dnNum>4917012340001</dnNum>
    <id>svc-1001</id>
    <snCodePub>DATA</snCodePub>
    <parameters><parameter><prmCode>APN</prmCode><value>internet</value></parameter></parameters>
    <limits><limit><name>DATA_CAP</name><value>10</value><unit>GB</unit></limit></limits>
  </contractServiceAdd>""",
        None,
    ),
    "service.change": (
        "req-1011",
        """
  <contractServiceWrite>
    <coIdPub>K-1001</coIdPub>
    <snCodePub>DATA</snCodePub>
    <limits><limit><name>DATA_CAP</name><value>20</value><unit>GB</unit></limit></limits>
  </contractServiceWrite>""",
        1,
    ),
    "service.remove": (
        "req-1012",
        """
  <contractServiceRemove>
    <serviceId>svc-1001</serviceId>
  </contractServiceRemove>""",
        None,
    ),
    "discount.assign": (
        "req-1013",
        """
  <discountAssign>
    <coIdPub>K-1001</coIdPub>
    <id>dsc-1001</id>
    <kind>P</kind>
    <pdCode>WELCOME10</pdCode>
    <value>10</value>
    <valueType>P</valueType>
  </discountAssign>""",
        None,
    ),
    "discount.remove": (
        "req-1014",
        """
  <discountRemove>
    <assignId>dsc-1001</assignId>
  </discountRemove>""",
        None,
    ),
    "suppression.set": (
        "req-1015",
        """
  <listingSuppressionSet>
    <dnNum>4917012340001</dnNum>
    <id>sup-1001</id>
    <reason>board member</reason>
  </listingSuppressionSet>""",
        None,
    ),
    "suppression.clear": (
        "req-1016",
        """
  <listingSuppressionClear>
    <suppressionId>sup-1001</suppressionId>
  </listingSuppressionClear>""",
        None,
    ),
    "attributes.set": (
        "req-1017",
        """
  <infoFieldsWrite>
    <entityKind>customer</entityKind>
    <entity>C-1001</entity>
    <infoFields><field><name>LOYALTY_TIER</name><value>gold</value></field></infoFields>
  </infoFieldsWrite>""",
        None,
    ),
    "version.restore": (
        "req-1018",
        """
  <versionRestore>
    <kind>customer</kind>
    <entity>C-1001</entity>
    <version>1</version>
    <field>segment</field>
  </versionRestore>""",
        None,
    ),
    "billing.resync": (
        "req-1019",
        """
  <billingResync>
    <kind>customer</kind>
    <entity>C-1001</entity>
    <fields><field>party</field></fields>
    <reason>reconciliation finding 17</reason>
  </billingResync>""",
        None,
    ),
}

#: Who sends an example when it is not agent.mila in the shop.
SENDERS: dict[str, tuple[str, str]] = {"billing.resync": ("reconciler", "reconciliation")}

#: operation → the XML document of its docs/requests.md example
DOCUMENTS: dict[str, str] = {
    operation: document(
        request_id,
        body,
        expected_version=version,
        user=SENDERS.get(operation, ("agent.mila", "shop"))[0],
        channel=SENDERS.get(operation, ("agent.mila", "shop"))[1],
    )
    for operation, (request_id, body, version) in BODIES.items()
}
