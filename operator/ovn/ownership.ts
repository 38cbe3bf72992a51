// How ovn-drift marks the NB rows it owns, in external_ids (as ovn-kubernetes does with its
// owner keys). Pure constants and helpers; must not import the OVSDB client.

/** external_ids key naming the PodCIDRRoute that owns a Logical_Router_Static_Route. */
export const OWNER_KEY = 'ovndrift.io/owner';
/** external_ids key naming the kind of the owner (always PodCIDRRoute today). */
const OWNER_TYPE_KEY = 'ovndrift.io/owner-type';
const OWNER_TYPE = 'PodCIDRRoute';

/** The external_ids a row owned by `resource` carries (merged over what the row already has). */
export function ownershipStamp(resource: string): Record<string, string> {
  return { [OWNER_KEY]: resource, [OWNER_TYPE_KEY]: OWNER_TYPE };
}
