// The tables (and columns, and rows) the operator's NB and SB replicas follow. The SB Logical_Flow
// table is followed only for the routing stages, by a monitor condition on external_ids, never
// in full. Pure data; must not import the OVSDB client.
import type { TableSpec } from '../ovsdb/types.js';
import { STAGE_ROUTING, STAGE_ROUTING_ECMP, STAGE_ROUTING_PRE } from './flows.js';

export const NB_TABLES: TableSpec[] = [
  { table: 'NB_Global', columns: ['nb_cfg', 'sb_cfg', 'hv_cfg', 'nb_cfg_timestamp', 'sb_cfg_timestamp'] },
  { table: 'Logical_Router', columns: ['name', 'static_routes', 'policies', 'ports', 'options', 'external_ids'] },
  { table: 'Logical_Router_Policy', columns: ['priority', 'match', 'action', 'nexthop', 'nexthops', 'options', 'external_ids'] },
  {
    table: 'Logical_Router_Static_Route',
    columns: ['ip_prefix', 'nexthop', 'policy', 'route_table', 'output_port', 'external_ids', 'options', 'bfd'],
  },
  { table: 'Address_Set', columns: ['name', 'addresses'] },
  { table: 'Logical_Router_Port', columns: ['name', 'mac', 'networks', 'peer', 'options'] },
  { table: 'Logical_Switch', columns: ['name', 'ports'] },
  { table: 'Logical_Switch_Port', columns: ['name', 'type', 'addresses', 'dynamic_addresses', 'port_security', 'options'] },
  // BFD sessions of BFD-monitored static routes (OVN >= 21.03; a server without it degrades BfdDown)
  { table: 'BFD', columns: ['logical_port', 'dst_ip', 'status'] },
];

/**
 * monitor_cond clauses are a disjunction: a flow of any of the routing stages is followed (the
 * routes, the ECMP members, and the few route-table flows of lr_in_ip_routing_pre).
 */
const ROUTING_FLOW_CONDITION: NonNullable<TableSpec['where']> = [
  ['external_ids', 'includes', ['map', [['stage-name', STAGE_ROUTING]]]],
  ['external_ids', 'includes', ['map', [['stage-name', STAGE_ROUTING_ECMP]]]],
  ['external_ids', 'includes', ['map', [['stage-name', STAGE_ROUTING_PRE]]]],
];

export const SB_TABLES: TableSpec[] = [
  { table: 'SB_Global', columns: ['nb_cfg'] },
  { table: 'Datapath_Binding', columns: ['external_ids', 'tunnel_key'] },
  { table: 'Logical_DP_Group', columns: ['datapaths'] },
  {
    table: 'Logical_Flow',
    columns: ['logical_datapath', 'logical_dp_group', 'pipeline', 'table_id', 'priority', 'match', 'actions', 'external_ids'],
    where: ROUTING_FLOW_CONDITION,
  },
  {
    table: 'Port_Binding',
    columns: ['logical_port', 'datapath', 'type', 'chassis', 'requested_chassis', 'additional_chassis', 'up', 'mac', 'options', 'virtual_parent', 'encap', 'ha_chassis_group'],
  },
  { table: 'HA_Chassis_Group', columns: ['name', 'ha_chassis'] },
  { table: 'HA_Chassis', columns: ['chassis', 'priority'] },
  { table: 'MAC_Binding', columns: ['logical_port', 'ip', 'mac', 'datapath', 'timestamp'] },
  { table: 'Chassis', columns: ['name', 'hostname', 'encaps'] },
  { table: 'Encap', columns: ['type', 'ip', 'options', 'chassis_name'] },
  { table: 'Chassis_Private', columns: ['name', 'chassis', 'nb_cfg', 'nb_cfg_timestamp'] },
];
