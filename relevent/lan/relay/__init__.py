"""Modbus relay/IO boards: controller outputs as contacts (on/off, curtailment steps, SG-Ready)."""
